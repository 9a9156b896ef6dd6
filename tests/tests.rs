mod affected;
mod evidence;
mod notify;
mod payments;
mod properties;
mod util;
mod waves;
