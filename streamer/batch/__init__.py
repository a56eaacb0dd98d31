"""``reenact batch``: many conversions spread over Ray actors, on this machine or a cluster.

``jobs`` reads JOBS.csv (or a folder of drivers) into checked conversions, ``results`` keeps
DIR/results.csv, ``staging`` makes each job's outputs appear whole or not at all, ``worker`` is the
Ray actor that converts jobs, ``scheduler`` hands jobs to workers (retrying a dead worker's job once).
"""
