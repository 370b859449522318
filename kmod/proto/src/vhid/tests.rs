//! Unit tests of the vhid state machine.
