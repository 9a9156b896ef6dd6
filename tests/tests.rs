mod affected;
mod properties;
mod util;
