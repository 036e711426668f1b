"""Reading results: statistics, comparisons, designs, sensitivity, discovery, report tables, notebook helpers."""
