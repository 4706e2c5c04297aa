"""Reports layer: tables, figures, the literate report and the command line. Imports all layers."""
