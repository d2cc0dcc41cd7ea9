"""bench/results"""
