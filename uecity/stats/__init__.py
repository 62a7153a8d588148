"""Dataset statistics of the paper's Table 1 and Fig. 3: numbers, Markdown, JSON and plots."""
