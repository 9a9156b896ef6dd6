mod affected;
mod notify;
mod payments;
mod properties;
mod util;
