"""``python -m ipguard.figures``: the paper's figures and tables from stored results
(``ipguard.app.figures``)."""

from ipguard.app.figures import main

if __name__ == "__main__":
    main()
