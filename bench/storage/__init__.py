"""bench/storage"""
