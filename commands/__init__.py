"""The commands of build.py other than the build itself, one module each, and what they share.

arguments.py    the command line: every command and option, parsed in any order
exits.py        how a command ends: its exit status, SIGTERM, a closed pipe
workspace.py    where things live: runs/, report/frozen/, out/<profile>/, the assets read
stage_code.py   the code files each stage's cache key hashes
analyse.py      both runs' files read and analysed (the build's analyse stage, and import)
freeze.py       freeze: what the last build used, into report/frozen/<profile>/
gate.py         check and diff: the claims against the study or the frozen numbers
gpu_job.py      bundle and import: the portable GPU job and what it returns
serve.py        serve: the live preview
"""
