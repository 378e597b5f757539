//! Closed sets of the domain stored as their names in a TEXT column, on both engines.
//!
//! A type listed here binds as its name (`Role::Treasurer` as `treasurer`) and decodes
//! back through its parser, so a query never spells a name out and a row holding a name
//! the code does not know is a decode error, not a silent mismatch. The names themselves
//! live with each type in `domain/`; the migrations' `CHECK (… IN (…))` keep the column to
//! the same set.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

use crate::domain::{OrgType, Role};

macro_rules! stored_as_text {
    ($($t:ty),* $(,)?) => {$(
        impl<DB: Database> Type<DB> for $t
        where
            str: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $t
        where
            String: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                <String as Encode<'q, DB>>::encode(self.as_str().to_owned(), buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $t
        where
            &'r str: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let name = <&'r str as Decode<'r, DB>>::decode(value)?;
                Ok(name.parse::<$t>()?)
            }
        }
    )*};
}

stored_as_text!(Role, OrgType);
