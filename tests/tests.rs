mod affected;
mod casefolder;
mod evidence;
mod notify;
mod payments;
mod properties;
mod util;
