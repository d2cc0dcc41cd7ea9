"""bench/cli/commands"""
