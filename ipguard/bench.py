"""``python -m ipguard.bench``: extract one fingerprint and score the zoo's suspects
(``ipguard.app.bench``)."""

from ipguard.app.bench import main

if __name__ == "__main__":
    main()
