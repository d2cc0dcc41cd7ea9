"""bench/datasets"""
