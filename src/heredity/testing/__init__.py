"""Support for heredity's own tests and for people testing against it (real-model fetching)."""
