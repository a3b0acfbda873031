//! Wire decoder (client side).
