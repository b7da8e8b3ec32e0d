"""A few invented customer messages: the bench's fallback texts and the docs' examples."""

SAMPLES: tuple[str, ...] = (
    "Hi, could you tell me when my order #48213 will ship? Thanks!",
    "This is the THIRD time I'm writing. My refund still hasn't arrived and nobody answers.",
    "You people are useless idiots. I want to speak to your manager right now.",
    "I was told on the phone the fee would be waived, now the app says I owe $35??",
    "If this isn't fixed today I'm posting this everywhere and telling all my followers.",
    "My lawyer will be in touch about the damaged sofa.",
    "Thank you so much, Dana fixed it in five minutes. Great service!",
    "I need the dress for my sister's wedding on Saturday and the tracking hasn't moved in a week.",
    "cancel my subscription. done with this.",
    "I'm not sure whether to exchange it or get my money back, which one is faster?",
    "wtf is wrong with your app, it logged me out again and deleted my cart",
    "Where can I find the invoice for last month?",
    "The internet has been down since Monday, I work from home and I'm losing money every day.",
    "Could you make an exception and extend the return window? I was in hospital.",
    "I'll come down to your store and you'll regret it.",
    "ok thanks, that answers my question",
)
