"""heredity.registry"""
