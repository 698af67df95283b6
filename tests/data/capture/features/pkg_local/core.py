import tabulate

thing = tabulate.tabulate
