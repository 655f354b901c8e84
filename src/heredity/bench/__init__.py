"""heredity.bench"""
