"""reports/gate"""
