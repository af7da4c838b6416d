"""Shared pytest configuration for the whole test tree."""
