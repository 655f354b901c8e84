"""heredity.case: worked case studies with known ground truth."""
