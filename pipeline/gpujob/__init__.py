"""The portable GPU job (gpu/README.md): what is bundled for it, what its driver decides on the
machine, and what it returns.

    bundle.py      the job folder: code, packed data, driver, bundle.json
    pack.py        CIFAR-100 as lossless WebP mosaics in at most two parts
    selfcheck.py   the precision and compile choice that trains on the machine
    projection.py  whether the rest of the job fits in its time
    jobarchive.py  the results archive the job returns
    jobimport.py   what `build.py import` checks of those archives

The driver (gpu/run.py) imports these on a machine where the bundled pipeline/ is all the project
there is: bundle.code_files ships every module of pipeline/, this package included.
"""
