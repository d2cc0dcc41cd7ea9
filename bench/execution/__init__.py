"""bench/execution"""
