mod affected;
mod evidence;
mod notify;
mod properties;
mod util;
