"""Hand-written Chinese content of the simulated internet, split by site and role.

``crisis`` is the scripted 新华路网点 story (the ground truth); the other modules are background and
distractors, deliberately the large majority, because the product is judged as much on what it ignores as on
what it catches. ``sim.scenario`` places all of it on a timeline.
"""
