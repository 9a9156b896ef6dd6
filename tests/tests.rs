mod affected;
mod casefolder;
mod checkouts;
mod evidence;
mod notify;
mod payments;
mod properties;
mod util;
