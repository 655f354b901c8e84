"""heredity.report"""
