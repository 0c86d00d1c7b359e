"""Problems, text encoders, TFRecord I/O and input pipelines in T2T's formats."""
