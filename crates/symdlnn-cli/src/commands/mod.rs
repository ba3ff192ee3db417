pub mod discover;
pub mod evaluate;
pub mod inspect;
pub mod predict;
pub mod reproduce;
pub mod simulate;
pub mod systems;
pub mod train;
