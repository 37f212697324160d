//! One module per vendor: the files it asks for and how they are rendered.

pub mod yealink;
