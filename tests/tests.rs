mod notify;
mod util;
