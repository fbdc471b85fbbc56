"""Where the grid's cells run: in the build's process (build.py's train_here), in local processes
(local.py), or as a Slurm job array through submitit (slurm.py). Each job is `build.py cell`, so the
same files land in runs/ whichever ran it."""
