# check_api.py is for type checkers only (some of its lines are meant to be wrong).
collect_ignore = ["check_api.py"]
