"""bench/training"""
