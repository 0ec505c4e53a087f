//! XDMA backend (to be written).
