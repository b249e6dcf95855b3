"""Complaint handling (投诉处理): the record, its clocks counted from receipt, the handling steps, statistics.

A complaint that goes viral is one case with the media side: a complaint links to (or raises) an incident, and an
incident about a customer's complaint gets the complaint's steps and clocks.
"""
