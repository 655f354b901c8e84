"""heredity.fingerprint"""
