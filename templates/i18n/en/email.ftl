# Passage emails, English. Every key here has a twin in ../fr/email.ftl (a test checks).
# The bodies' layout is in templates/email/; these are their words.

email-case = Case:
email-category = Category:
email-amount = Amount:
email-reason = Reason:

email-urgent-subject = Urgent: { $category } { $amount } for case { $case }
email-escalated-subject = [Escalated] Urgent: { $category } { $amount } for case { $case }
email-urgent-intro = An urgent request is waiting for a decision.
email-urgent-why = Why a treasurer:
email-urgent-decide = Decide:
email-urgent-decide-link = Open the request to decide

email-org = Organisation:
email-requester = Asked by:
email-route = Trip:
email-travel-date = Travel date:
email-trip-reason = Why the trip:
email-stay = Hotel:
email-stay-value = { $nights } nights × { $rate }, { $party } people
email-needed-by = Needed by:
email-excess = Past the rule:
email-case-days = This case's other requests, last 90 days:
email-case-days-value = { $count } (approved or spent: { $total })
email-available-now = Available now:
email-available-after = Available after approving it:
email-approvals = Approvals:
email-approvals-value = { $done } of { $needed }
email-approvals-by = { $done } of { $needed } ({ $who })

email-asked-subject = A treasurer has a question: { $category } { $amount } for case { $case }
email-asked-intro = A treasurer needs more information before deciding. The request waits until you answer the question on its page.
email-asked-link = Read and answer the question:
email-answered-subject = Answered: { $category } { $amount } for case { $case }
email-answered-intro = The caseworker answered your question; the request is back in the queue, in its first place.
email-answered-link = Read the answer and decide:

email-approved-subject = Approved: { $category } { $amount } for case { $case }
email-approved-intro = The request is approved and the money is held.
email-approved-receipt = After the purchase, record the receipt:
email-approved-receipt-link = Record the receipt after the purchase
email-declined-subject = Declined: { $category } { $amount } for case { $case }
email-declined-intro = The request is declined.
email-decline-code = Why:
email-declined-read = Read it on its page:
email-declined-read-link = Open the request

email-low-subject = Low fund: { $available } available
email-low-intro = The fund has fallen under its reserve floor.
email-low-available = Available:
email-low-floor = Reserve floor:

email-late-waiting-subject = Late receipt: { $category } { $amount } for case { $case }
email-late-waiting-intro = A receipt came in after its hold expired: the organisation has already paid. Approve it to pay it from the fund, or decline it.
email-late-escalated-subject = [Escalated] Late receipt: { $category } { $amount } for case { $case }
email-late-escalated-intro = Nobody has decided on this late receipt yet: the organisation has already paid and waits. Approve it to pay it from the fund, or decline it.
email-late-approved-subject = Late receipt approved: { $category } { $amount } for case { $case }
email-late-approved-intro = A treasurer approved the late receipt: the fund pays it.
email-late-declined-subject = Late receipt declined: { $category } { $amount } for case { $case }
email-late-declined-intro = A treasurer declined the late receipt: the fund does not pay it and the request stays expired.
email-late-open-link = Open the request
email-hold-reminder-subject = Receipt still missing: { $category } { $amount } for case { $case }
email-hold-reminder-intro = The money held for this request goes back to the fund in { $time } unless its receipt is entered.

email-seal-subject = Donor report to seal: { $start } to { $end }
email-seal-intro = The report for { $start } to { $end } is waiting for a treasurer to seal it, and a second one to co-sign it.
email-seal-link = Review and seal it:
email-cosign-subject = Donor report to co-sign: { $start } to { $end }
email-cosign-intro = The report for { $start } to { $end } is sealed and waiting for a second treasurer's co-signature.
email-cosign-link = Review and co-sign it:

email-donor-subject = What the Passage fund did, { $start } to { $end }
email-donor-hello = Hello { $name },
email-donor-intro = Here is what the Passage emergency fund did from { $start } to { $end }.
email-donor-no-gift = You made no gift in this period: thank you for your support.
email-donor-your-gifts = Your gifts in this period
email-donor-your-gifts-text = Your gifts in this period:
email-donor-total = Total:
email-donor-fund = The fund
email-donor-fund-text = The fund:
email-donor-row = { $label }: { $value }
email-donor-by-need = Spending by need
email-donor-by-need-text = Spending by need:
email-donor-web = Web version:
email-donor-web-link = Read this report on the web
email-donor-link-days = this link works for { $days } days
email-donor-hash = Report fingerprint (SHA-256):
email-donor-by-province = Spending by province
email-donor-by-province-text = Spending by province:
email-donor-how-to-read = How to read this report
email-donor-how-to-read-text = How to read this report:
email-donor-check = To check it: the report's web page offers its summary file; sha256sum of that file prints this fingerprint.
email-donor-stop = To stop receiving these reports:
email-donor-stop-link = Stop receiving these reports

# A password reset link (issue 19)
email-reset-subject = Set a new Passage password
email-reset-intro = Someone, probably you, asked to set a new password for your Passage account. The link below works once, for one hour.
email-reset-link = Set a new password
email-reset-ignore = If you did not ask, ignore this email: your password stays as it is.

# An invitation to Passage (issue 19)
email-invitation-subject = You are invited to Passage
email-invitation-intro = An admin of your coalition's emergency fund invited you to Passage. Choose your password with the link below: it works once, for 48 hours. Then sign in with your email and that password.
email-invitation-link = Choose my password
email-invitation-ignore = If you did not expect this invitation, ignore this email: without the link, nothing happens.
