"""remot_train: training and evaluation on triplet tables (torch, transformers, trl). Never imports remot_data."""
