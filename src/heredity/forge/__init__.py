"""heredity.forge"""
