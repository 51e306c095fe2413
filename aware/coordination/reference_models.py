"""Municipalities (CBS codes, regions) and partner organisations with contact persons."""
