"""bench/cli"""
