"""One practice session's replies, shared by the store tests and the console tests: a good
trainee and a dismissive one on a hard scenario."""

SCENARIO = "flight-cancelled-aggressive"
# Written for this test from ordinary good practice (acknowledge, own it, fix it, follow up).
GOOD = (
    "I am so sorry, that is awful: you were told you had a seat and there was none at the gate. "
    "That is on us, and I will fix it right now.",
    "The app confirmed the rebooking before the seat existed, which was our mistake, not yours. "
    "I have rebooked you on NW486 at 18:40 today with a confirmed seat, and the boarding pass is "
    "in your email now.",
    "I have also added a meal voucher for the wait. If you prefer, I can refund the 219 EUR ticket "
    "in full instead. I will check back with you at 17:30 to make sure everything is in order.",
    "Thank you for your patience. Is there anything else I can do for you today?",
)
BAD = (
    "Please calm down. The app message is automated and it is not my department.",
    "As per our policy, rebooking is subject to availability. There is nothing I can do.",
    "We will look into it at some point.",
)
