"""Automatic checks for the lessons' exercises, one module per lesson topic."""
