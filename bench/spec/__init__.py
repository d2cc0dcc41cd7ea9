"""bench/spec"""
