mod affected;
mod notify;
mod properties;
mod util;
