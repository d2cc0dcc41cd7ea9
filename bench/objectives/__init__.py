"""bench/objectives"""
