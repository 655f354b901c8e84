"""heredity.evidence"""
