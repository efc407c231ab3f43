"""The shared case tables: each written once and run by the tests, by the golden-file scripts and, where they
take the library as an argument, against both minitl and PyTorch."""
