"""Question rendering: ReMoT prompt wording per family and the seeded option shuffle."""
